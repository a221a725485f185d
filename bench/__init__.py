"""wfleak's benchmark suite: wfleak against what people would use instead, in the same run."""
