"""Entry point for ``python -m wfleak``."""

from wfleak.cli import main

if __name__ == "__main__":
    main()
