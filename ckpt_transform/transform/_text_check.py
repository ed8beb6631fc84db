"""The cheap text check that lets the import hook and the CLI skip parsing. No libcst import here."""

PACKAGE = "ckpt_transform"
MARKER = "checkpoint"


def has_marker(code: str) -> bool:
    """True when ``code`` may hold a marked block; False means it certainly holds none.

    Every marker form needs an import from the package and the word ``checkpoint``; a module
    failing this test is returned untouched without being parsed.
    """
    return PACKAGE in code and MARKER in code and "with" in code
