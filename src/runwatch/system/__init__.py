"""What runwatch records about a run without being asked: its environment."""
