"""The SDK: the run lifecycle, the log() hot path, the writer and its sinks."""
