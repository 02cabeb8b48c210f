"""The module `max connector build` makes into a component: exports the connector as Max's `source`."""

from max_connector import export

from connector import Example

Source = export(Example)
