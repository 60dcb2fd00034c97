"""One execution of a stage over a set of outputs: lock, freshness check, atomic commit.

Shared by every layer that writes stage outputs (``prepare`` lives in :mod:`neurodecode.data`,
the other stages in :mod:`neurodecode.stages`), so it sits beside :mod:`neurodecode._io`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["StageRun"]


class StageRun:
    """One execution of a stage over a set of outputs (use it as a context manager).

    On entry it takes the lock of the output set (a second run over the same outputs waits),
    removes temporaries that killed runs left, and sets :attr:`up_to_date`: every output and
    its sidecar exist, and the sidecars record this resolved config and these inputs as they
    are now. Otherwise :meth:`path` gives the temporary path of each output; on a clean exit
    the sidecars are written and everything is renamed into place together; on an exception
    nothing under a final name changes.

    Parameters
    ----------
    stage : str
        Stage name (recorded in the sidecars).
    config : object
        The resolved Config (recorded, and compared with what earlier sidecars recorded).
    outputs : sequence of Path
        Every output of the run.
    inputs : sequence of Path
        Files (or folders) the outputs depend on.
    seed, device, split_hash
        Recorded in the sidecars.
    """

    def __init__(
        self,
        stage: str,
        config: Any,
        outputs: Sequence[Path],
        inputs: Sequence[str | os.PathLike[str]] = (),
        *,
        seed: int | None = None,
        device: str = "cpu",
        split_hash: str | None = None,
    ) -> None:
        from neurodecode._provenance import RunRecord

        if not outputs:
            raise ValueError(f"{stage}: a stage run needs at least one output")
        self.stage = stage
        self.config = config
        self.outputs = [Path(p) for p in outputs]
        self.inputs = [Path(p) for p in inputs]
        self.record = RunRecord(
            stage=stage, config=config, seed=seed, device=device, split_hash=split_hash
        )
        self.up_to_date = False
        self._lock: Any = None
        self._tx: Any = None

    def __enter__(self) -> StageRun:
        from neurodecode._io import OutputTransaction, output_lock, remove_stale_temps
        from neurodecode._provenance import describe_inputs, sidecar_matches, sidecar_path

        self._lock = output_lock(self.outputs[0])
        self._lock.__enter__()
        try:
            remove_stale_temps([*self.outputs, *map(sidecar_path, self.outputs)])
            self.up_to_date = all(
                sidecar_matches(p, self.config, self.inputs) for p in self.outputs
            )
            self._inputs_now = describe_inputs(self.inputs)
            self._tx = OutputTransaction()
        except BaseException:
            self._lock.__exit__(*sys.exc_info())
            raise
        return self

    def path(self, final: str | os.PathLike[str], *, directory: bool = False) -> Path:
        """The temporary path to write ``final`` to (it is renamed on a clean exit)."""
        final = Path(final)
        if final not in self.outputs:
            raise ValueError(f"{self.stage}: {final} is not one of this run's outputs")
        return self._tx.path(final, directory=directory)

    def _write_sidecars(self) -> None:
        from neurodecode._io import write_json_atomic
        from neurodecode._provenance import sidecar_path

        record = self.record.as_dict()
        record["inputs"] = self._inputs_now
        record["outputs"] = [p.name for p in self.outputs]
        for out in self.outputs:
            side = sidecar_path(out)
            if side in self._tx.finals:
                continue
            tmp = self._tx.path(side)
            write_json_atomic(tmp, record)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if exc_type is None and not self.up_to_date:
                missing = [p for p in self.outputs if p not in self._tx.finals]
                if missing:
                    raise RuntimeError(
                        f"{self.stage}: the run did not write {', '.join(map(str, missing))}"
                    )
                self._write_sidecars()
                self._tx.commit()
        except BaseException:
            self._tx.abort()
            raise
        finally:
            self._tx.abort()  # no-op after a commit
            self._lock.__exit__(exc_type, exc, tb)
