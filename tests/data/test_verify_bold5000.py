"""data verify on BOLD5000 trees: a sound tree passes, each damage is named with its file."""

from __future__ import annotations

from neurodecode.data import _bold5000_layout as b5k
from neurodecode.data._verify_bold5000 import verify_bold5000


def test_sound_tree_has_no_problem(bold5000_tree):
    root, _ = bold5000_tree
    assert verify_bold5000(root, ["CSI1"]) == []


def test_truncated_and_missing_sessions_are_listed(bold5000_copy):
    root, _ = bold5000_copy
    session2 = next(root.rglob(b5k.beta_session_path("CSI1", 2).name))
    data = session2.read_bytes()
    session2.write_bytes(data[: len(data) // 2])
    problems = verify_bold5000(root, ["CSI1"], sessions=[1, 2, 9])
    paths = {p.path: p for p in problems}
    assert str(session2) in paths
    assert any(p.path.endswith("_ses-09.nii.gz") and "missing" in p.problem for p in problems)


def test_roi_file_with_short_rows_is_listed(bold5000_copy):
    import scipy.io

    root, _ = bold5000_copy
    path = root / b5k.roi_mat_path("CSI1")
    mat = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    key = sorted(mat)[0]
    mat[key] = mat[key][:-1]
    scipy.io.savemat(path, mat)
    problems = verify_bold5000(root, ["CSI1"])
    assert any(p.path == str(path) and key in p.problem for p in problems)
