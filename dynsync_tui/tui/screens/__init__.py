"""One module per wizard step (each with a sibling .tcss)."""

from dynsync_tui.tui.screens.connect import ConnectScreen
from dynsync_tui.tui.screens.country import CountryScreen
from dynsync_tui.tui.screens.lists import ListsScreen
from dynsync_tui.tui.screens.mappings import MappingsScreen
from dynsync_tui.tui.screens.preview import PreviewScreen
from dynsync_tui.tui.screens.runs import RunsScreen
from dynsync_tui.tui.screens.sync import SyncScreen

SCREEN_CLASSES = {
    "connect": ConnectScreen,
    "country": CountryScreen,
    "mappings": MappingsScreen,
    "lists": ListsScreen,
    "preview": PreviewScreen,
    "sync": SyncScreen,
    "runs": RunsScreen,
}
