"""``python -m chalkline``: the same CLI as the ``chalkline`` console script."""

from chalkline.cli import main

# Worker processes re-import the main module (multiprocessing's contract), so
# the CLI must only start when this file really is the program.
if __name__ == "__main__":
    main()
