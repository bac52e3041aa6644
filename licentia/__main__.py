"""`python -m licentia` runs the command line."""

from licentia.cli.main import main

if __name__ == "__main__":
    main()
