"""Flows with ``IncludeFile`` parameters; a module, so worker processes can import them."""

from __future__ import annotations

from archivist import FlowSpec, IncludeFile, step


class IncludeFlow(FlowSpec):
    """A CSV read as text in start and in every foreach task, and a binary file."""

    data = IncludeFile("data", help="the rows", is_text=True, default="rows.csv")
    blob = IncludeFile("blob", is_text=False, required=False, default="blob.bin")

    @step
    def start(self):
        self.lines = self.data.splitlines()
        self.header = self.lines[0]
        self.next(self.count, foreach="lines")

    @step
    def count(self):
        self.width = len(self.input.split(","))
        self.first_byte = self.blob[0]
        self.same_text = self.data.startswith(self.header)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.widths = [i.width for i in inputs]
        self.all_same = all(i.same_text for i in inputs)
        self.first_bytes = sorted({i.first_byte for i in inputs})
        self.next(self.end)

    @step
    def end(self):
        self.kinds = [type(self.data).__name__, type(self.blob).__name__]


class Latin1Flow(FlowSpec):
    """Text in another encoding."""

    notes = IncludeFile("notes", encoding="latin-1")

    @step
    def start(self):
        self.text = self.notes
        self.next(self.end)

    @step
    def end(self):
        pass
