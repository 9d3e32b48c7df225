"""reno_exp's users' config folders in Hydra's search path: ``$RENO_EXP_CONFIG_DIR`` (folders separated by
``os.pathsep``) and ``${XDG_CONFIG_HOME:-~/.config}/reno_exp`` when it exists, after the package's own
``conf/`` (whose options win over a user's of the same name). Hydra discovers this plugin in the
``hydra_plugins`` namespace package; it adds folders to reno_exp's search path only, never another app's.
Which folders, and the order: reno_exp.config.searchpath.
"""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class RenoExpSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        # imported here: Hydra imports every plugin module for every app, reno_exp's or not
        from reno_exp.config.searchpath import PLUGIN, is_app, user_folders

        if not is_app(search_path):
            return
        for folder in user_folders():
            search_path.append(PLUGIN, f"file://{folder}")
