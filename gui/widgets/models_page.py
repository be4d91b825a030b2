"""The Models page of the Settings window: what can be used now, downloads,
and a CTranslate2 folder of one's own.

It shows what its controllers report (ModelsCatalog's list and folder
checks, ModelDownload's progress) and asks them for work; it never waits
for a command itself. Choosing a model here only proposes it
(`model_chosen`): the window applies it with the other settings.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from gui.controllers.model_download import DownloadProgress, ModelDownload
from gui.controllers.models_catalog import FolderCheck, ModelEntry, ModelsCatalog
from gui.settings.validation import WHISPER_NAMES
from service.models import names

NAME, LANGUAGES, SIZE, LOCATION, CURRENT = range(5)


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


class ModelsPage(QWidget):
    model_chosen = Signal(str)      # a model name, or the path of a checked folder

    def __init__(self, catalog: ModelsCatalog, download: ModelDownload,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.catalog = catalog
        self.download = download
        self.current = ""           # the model the window holds now (applied or not)
        self._asked_folder: str | None = None

        self.table = QTableWidget(0, 5, self)
        self.table.setHorizontalHeaderLabels([self.tr("Name"), self.tr("Languages"),
                                              self.tr("Size"), self.tr("Location"),
                                              self.tr("Current")])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(LOCATION, QHeaderView.ResizeMode.Stretch)
        self.list_label = QLabel(self.tr("Looking for models…"), self)
        self.list_label.setWordWrap(True)
        self.use_button = QPushButton(self.tr("Use this model"), self)
        self.use_button.setEnabled(False)
        self.refresh_button = QPushButton(self.tr("Refresh"), self)
        self.folder_button = QPushButton(self.tr("Choose a folder…"), self)
        self.folder_label = QLabel("", self)
        self.folder_label.setWordWrap(True)
        self.chosen_label = QLabel("", self)
        self.chosen_label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.use_button)
        row.addWidget(self.folder_button)
        row.addStretch(1)
        row.addWidget(self.refresh_button)

        box = QGroupBox(self.tr("Download a model"), self)
        self.download_box = QComboBox(box)
        self.download_box.setEditable(True)
        self.download_box.setToolTip(self.tr("A faster-whisper model name, such as large-v3"))
        self.download_button = QPushButton(self.tr("Download…"), box)
        self.cancel_button = QPushButton(self.tr("Cancel download"), box)
        self.cancel_button.setEnabled(False)
        self.progress_bar = QProgressBar(box)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)
        self.progress_label = QLabel(self.tr("Models other than the ones above are downloaded "
                                             "from the Hugging Face hub (needs a network); a "
                                             "stopped download resumes where it stopped."), box)
        self.progress_label.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.download_box, 1)
        top.addWidget(self.download_button)
        bar = QHBoxLayout()
        bar.addWidget(self.progress_bar, 1)
        bar.addWidget(self.cancel_button)
        inner = QVBoxLayout(box)
        inner.addLayout(top)
        inner.addLayout(bar)
        inner.addWidget(self.progress_label)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.list_label)
        layout.addLayout(row)
        layout.addWidget(self.folder_label)
        layout.addWidget(self.chosen_label)
        layout.addWidget(box)

        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self.use_selected())
        self.use_button.clicked.connect(self.use_selected)
        self.refresh_button.clicked.connect(self.refresh)
        self.folder_button.clicked.connect(self._choose_folder)
        self.download_button.clicked.connect(lambda: self.start_download(
            self.download_box.currentText()))
        self.cancel_button.clicked.connect(self.download.cancel)
        catalog.listed.connect(self._show_entries)
        catalog.list_failed.connect(self._show_list_failure)
        catalog.checked.connect(self._show_check)
        download.progress.connect(self._show_progress)
        download.done.connect(self._download_done)
        download.failed.connect(self._download_failed)
        download.cancelled.connect(self._download_cancelled)
        download.running_changed.connect(self._download_running)
        self._fill_download_names([])

    # ------------------------------------------------------------ public
    def set_current(self, model: str) -> None:
        """The model the window would apply; marked in the table."""
        self.current = model
        self.chosen_label.setText(self.tr("Model to use: {0}").format(model) if model else "")
        self._mark_current()

    def refresh(self) -> None:
        if self.catalog.refresh(current=self.current or None):
            self.list_label.setText(self.tr("Looking for models…"))
            self.refresh_button.setEnabled(False)

    def use_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self.model_chosen.emit(self._value_of(entry))

    def selected_entry(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), NAME)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def check_folder(self, path: str) -> None:
        """Have the service judge `path`; a good folder becomes the model."""
        if not path:
            return
        self._asked_folder = path
        self.folder_label.setText(self.tr("Checking the folder {0}…").format(path))
        self.catalog.check(path)

    def start_download(self, name: str) -> bool:
        name = name.strip()
        if not name:
            self.progress_label.setText(self.tr("Enter the name of a faster-whisper model to "
                                                "download, such as large-v3."))
            return False
        if name not in WHISPER_NAMES:
            self.progress_label.setText(self.tr(
                "'{0}' is not a faster-whisper model name. Pick one from the list, such as "
                "large-v3 or distil-large-v3.").format(name))
            return False
        if not self.download.start(name):
            return False
        self.progress_bar.setRange(0, 0)    # busy until the first figures arrive
        self.progress_label.setText(self.tr("Starting the download of {0}…").format(name))
        return True

    def show_problem(self, sentence: str) -> None:
        """A model that could not load (from the service): say it here, next
        to the ways of choosing another."""
        self.folder_label.setText(sentence)

    # ------------------------------------------------------------ display
    @staticmethod
    def _value_of(entry: ModelEntry) -> str:
        return entry.path if entry.source == "folder" and entry.path else entry.name

    def _languages_text(self, entry: ModelEntry) -> str:
        if entry.languages == "en":
            return self.tr("English only")
        if entry.languages == "multilingual":
            return self.tr("Multilingual")
        return entry.languages or "-"

    def _show_entries(self, entries: list) -> None:
        self.refresh_button.setEnabled(True)
        self.list_label.setText(self.tr("Models that can be used now, without a network:")
                                if entries else self.tr("No model can be used now: download "
                                                        "one below or choose a folder."))
        self.table.setRowCount(len(entries))
        for r, entry in enumerate(entries):
            cells = (entry.name, self._languages_text(entry),
                     "-" if entry.size_bytes is None else _mib(entry.size_bytes), entry.path, "")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == LOCATION:
                    item.setToolTip(entry.path)
                self.table.setItem(r, c, item)
            self.table.item(r, NAME).setData(Qt.ItemDataRole.UserRole, entry)
        self._mark_current()
        self._fill_download_names(entries)

    def _mark_current(self) -> None:
        for r in range(self.table.rowCount()):
            item = self.table.item(r, NAME)
            entry = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
            if entry is None:
                continue
            mine = self.current in (entry.name, entry.path) if self.current else entry.current
            self.table.item(r, CURRENT).setText(self.tr("Yes") if mine else "")

    def _fill_download_names(self, entries: list) -> None:
        have = {e.name for e in entries}
        keep = self.download_box.currentText()
        self.download_box.clear()
        self.download_box.addItems([n for n in names.downloadable() if n not in have])
        if keep and keep not in have:
            self.download_box.setCurrentText(keep)

    def _show_list_failure(self, sentence: str) -> None:
        self.refresh_button.setEnabled(True)
        self.list_label.setText(sentence)

    def _selection_changed(self) -> None:
        self.use_button.setEnabled(self.selected_entry() is not None)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.tr("Choose a folder with a "
                                                              "CTranslate2 Whisper model"))
        self.check_folder(path)

    def _show_check(self, result: FolderCheck) -> None:
        if result.path != self._asked_folder:
            return      # a check the window asked for (a typed path): its own to show
        self._asked_folder = None
        if result.ok:
            self.folder_label.setText(self.tr("The folder {0} holds a model ASR Tray can use; "
                                              "press Apply to use it.").format(result.path))
            self.model_chosen.emit(result.path)
        else:
            self.folder_label.setText(result.message)

    # ------------------------------------------------------------ download
    def _download_running(self, running: bool) -> None:
        self.download_button.setEnabled(not running)
        self.download_box.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.progress_bar.setRange(0, 1000)

    def progress_text(self, p: DownloadProgress) -> str:
        speed = self.tr("{0}/s").format(_mib(p.speed)) if p.speed else self.tr("speed unknown")
        left = self.time_left_text(p.eta)
        if p.total:
            return self.tr("{0}: {1} of {2} · {3} · {4}").format(
                p.file, _mib(p.bytes), _mib(p.total), speed, left)
        return self.tr("{0}: {1} so far · {2} · {3}").format(p.file, _mib(p.bytes), speed, left)

    def time_left_text(self, eta: float | None) -> str:
        if eta is None:
            return self.tr("time left unknown")
        s = int(round(eta))
        if s < 60:
            return self.tr("{0} s left").format(s)
        if s < 3600:
            return self.tr("{0} min {1} s left").format(s // 60, s % 60)
        return self.tr("{0} h {1} min left").format(s // 3600, s % 3600 // 60)

    def _show_progress(self, p: DownloadProgress) -> None:
        if p.fraction is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(p.fraction * 1000))
        self.progress_label.setText(self.progress_text(p))

    def _download_done(self, name: str, path: str) -> None:
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(1000)
        self.progress_label.setText(self.tr("{0} is downloaded to {1}. Select it above and "
                                            "press Use this model.").format(name, path))
        self.refresh()

    def _download_failed(self, sentence: str) -> None:
        self.progress_label.setText(sentence)

    def _download_cancelled(self) -> None:
        self.progress_label.setText(self.tr("The download of {0} was cancelled. Download it "
                                            "again to resume where it "
                                            "stopped.").format(self.download.name))
