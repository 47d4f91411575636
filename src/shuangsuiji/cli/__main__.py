"""``python -m shuangsuiji.cli``."""

from shuangsuiji.cli import main

if __name__ == "__main__":
    main()
