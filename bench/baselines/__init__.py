"""What people would run instead of wfleak, as scripts the benchmarks time."""
