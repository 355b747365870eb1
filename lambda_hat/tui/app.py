"""The ``lambda-hat tui`` application: browse a store, compare samplers, launch experiments.

Three modes, each with its own screen stack, so leaving one keeps its state:
``browse`` (targets → target → run), ``compare`` and ``launch``. The app polls the store's
folder times every couple of seconds and tells the screens when something appeared, and
polls the event files of launched runs twice a second.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from lambda_hat.store.catalog import Catalog
from lambda_hat.tui.data import store_signature
from lambda_hat.tui.launch import Launch
from lambda_hat.tui.screens.compare import CompareScreen
from lambda_hat.tui.screens.help import HelpScreen
from lambda_hat.tui.screens.launch import LaunchScreen
from lambda_hat.tui.screens.targets import TargetsScreen


class LambdaHatApp(App):
    """Keyboard-driven browser and launcher for a lambda-hat store."""

    TITLE = "lambda-hat"
    CSS = """
    Screen { background: $surface; }
    .pane-title { text-style: bold; color: $accent; padding: 0 1; height: 1; }
    .muted { color: $text-muted; }
    """
    MODES = {
        "browse": TargetsScreen,
        "compare": CompareScreen,
        "launch": LaunchScreen,
    }
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("t", "switch_mode('browse')", "Targets"),
        Binding("c", "switch_mode('compare')", "Compare"),
        Binding("l", "switch_mode('launch')", "Launch"),
        Binding("r", "reload", "Refresh"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]
    GLOBAL_KEYS = "qtclr?"

    def __init__(
        self,
        root: str | Path,
        experiments_dir: str | Path = "experiments",
        images: str = "halfcell",
        store_poll_sec: float = 2.0,
        launch_poll_sec: float = 0.5,
    ):
        super().__init__()
        self.root = Path(root)
        self.catalog = Catalog(self.root)
        self.experiments_dir = Path(experiments_dir)
        self.images = images
        self.store_poll_sec = store_poll_sec
        self.launch_poll_sec = launch_poll_sec
        self.launches: list[Launch] = []
        self._signature: tuple | None = None
        self._quit_armed = False
        self.sub_title = str(self.root)

    def on_mount(self) -> None:
        self.switch_mode("browse")
        self._signature = store_signature(self.catalog)
        self.set_interval(self.store_poll_sec, self.poll_store)
        self.set_interval(self.launch_poll_sec, self.poll_launches)

    # -- polling -----------------------------------------------------------------------
    def poll_store(self) -> None:
        sig = store_signature(self.catalog)
        if sig != self._signature:
            self._signature = sig
            self.notify_store_changed()

    def notify_store_changed(self) -> None:
        """Ask every screen that shows store contents to reload (visible ones first)."""
        for screen in self._all_screens():
            reload = getattr(screen, "store_changed", None)
            if reload is not None:
                reload()

    def poll_launches(self) -> None:
        for launch in self.launches:
            was_running = launch.returncode is None
            if launch.poll():
                for screen in self._all_screens():
                    handler = getattr(screen, "launch_updated", None)
                    if handler is not None:
                        handler(launch)
                if was_running and not launch.running:
                    self._launch_ended(launch)

    def _launch_ended(self, launch: Launch) -> None:
        failed = launch.counts().get("failed", 0)
        severity = "information" if launch.returncode == 0 and not failed else "warning"
        line = launch.status_line()  # a file's name, a stop's reason: text, not markup
        self.notify(line, title="launch ended", severity=severity, timeout=8, markup=False)
        self.poll_store()

    def _all_screens(self):
        seen = []
        for stack in self._screen_stacks.values():
            for screen in stack:
                if screen not in seen:
                    seen.append(screen)
        return seen

    # -- actions -----------------------------------------------------------------------
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_reload(self) -> None:
        self._signature = store_signature(self.catalog)
        self.notify_store_changed()

    def start_launch(self, experiments: Path) -> Launch | None:
        """Start ``lambda-hat run`` on a file, unless a launch is still running."""
        if any(launch.running for launch in self.launches):
            self.notify("a launch is still running; wait for it or stop it (x)", severity="warning")
            return None
        launch = Launch.start(experiments, self.root)
        self.launches.append(launch)
        return launch

    async def action_quit(self) -> None:
        running = [launch for launch in self.launches if launch.running]
        if running and not self._quit_armed:
            self._quit_armed = True
            self.notify(
                "a launched run is still going; it keeps running in the background after "
                "you quit. Press q again to quit.",
                severity="warning",
            )
            return
        self.exit()
