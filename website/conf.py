"""Sphinx + MyST-NB configuration of the course website (`make site`; pages staged by scripts/build_site.py)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from set_repo import github_repo  # noqa: E402

project = "llm_workshop"
author = "llm_workshop contributors"
copyright = "llm_workshop contributors, MIT license"  # noqa: A001
html_title = "llm_workshop — large language models, hands on"

extensions = ["myst_nb"]
exclude_patterns = ["**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
nb_execution_mode = "off"  # the pages show what `make run` produced; the site never runs code itself
nb_merge_streams = True  # one block per cell for consecutive prints, as Jupyter shows them
suppress_warnings = ["myst.header"]  # notebooks number their sections in the titles (1.1, ...), not by level

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_show_sourcelink = False
html_use_index = False  # the course defines no index entries: the general index page would be empty
smartquotes = False  # quotes stay as typed: error messages and identifiers read as they are
html_last_updated_fmt = ""
# Light or dark as the reader's system prefers; left unset, a first visit logs a console error from the theme.
html_context = {"default_mode": "auto"}
html_theme_options = {
    "repository_url": f"https://github.com/{github_repo()}",
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
    "home_page_in_toc": True,
}

# MathJax 3 from its npm package, copied into _static/mathjax by build_site.py: formulas render offline.
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {"options": {}}
