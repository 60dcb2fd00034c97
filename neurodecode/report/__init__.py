"""Per-subject HTML report and its figures (self-contained, opens offline)."""

from neurodecode.report._html import ReportInputs, best_feature_spaces, render_subject_report
from neurodecode.report._retrieval import retrieval_report_data

__all__ = ["ReportInputs", "best_feature_spaces", "render_subject_report", "retrieval_report_data"]
