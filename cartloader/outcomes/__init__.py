"""The outcome log: its line format, the run's meta file, the log file, the resume index, and the file sinks."""
