"""Per-subject HTML report and its figures (self-contained, opens offline)."""

from neurodecode.report._html import ReportInputs, best_feature_spaces, render_subject_report

__all__ = ["ReportInputs", "best_feature_spaces", "render_subject_report"]
