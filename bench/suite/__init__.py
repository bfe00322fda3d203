"""The scenarios behind `bench/run.py`: each runs in its own child process (see `child`)."""
