"""``python -m gates.cli``: the `gates` command, as the self-tests and a checkout without the script run it."""

from gates.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
