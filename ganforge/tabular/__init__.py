"""Tabular synthetic data: the CTGAN column transform and training-by-sampling conditions."""
from ganforge.tabular.sampler import Conditions, ConditionSampler  # noqa: F401
from ganforge.tabular.transform import Span, TabularTransform, check_table, infer_column_types  # noqa: F401
