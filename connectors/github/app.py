"""The component's entry point, which componentize-py builds: the GitHub connector (`github.py`) exported
as the contract's `source` interface."""

from max_connector import export

from github import GitHub

Source = export(GitHub)
