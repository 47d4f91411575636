"""mkdocs hook: keep mkdocs-jupyter's progress notes out of the build log.

mkdocs-jupyter reports at INFO every notebook it converts or copies, and scripts/test.sh fails
the docs build on any message beyond mkdocs' own progress lines. Its warnings and errors still
show (and fail the strict build).
"""

import logging

for name in ("mkdocs.mkdocs-jupyter", "mkdocs.plugins.mkdocs_jupyter"):
    logging.getLogger(name).setLevel(logging.WARNING)
