"""Input validation as pure functions, one module per subject.

Every ``*_problems`` function takes plain values and returns a list of problems (empty when the value is
fine). A problem is one sentence that names the setting, shows the value, states the rule and says what to
do. Callers collect the problems of every input and raise one :class:`InvalidInputError` that lists them
all, before any resource is registered, so that a user fixes everything in one go.

The same functions serve the components' arguments (named like ``input_bucket_name``) and the stack
configuration (named like ``inputBucketName``): the caller passes the name to show. Every pattern is
matched in full (``re.fullmatch``) over ASCII classes: Python's ``\\w`` also matches non-ASCII letters, and
``$`` matches before a trailing newline.
"""

from .accounts import account_id_problems
from .errors import InvalidInputError, raise_if_problems
from .healthimaging import datastore_ids_problems, datastore_name_problems
from .iam import (
    iam_name_problems,
    iam_path_problems,
    iam_policy_arn_problems,
    iam_principal_problems,
    principal_arn,
)
from .iam_settings import iam_settings_problems
from .identity_center import identity_center_instance_arn_problems, permission_set_name_problems
from .kms import foreign_key_warnings, kms_alias_name_problems, kms_key_arn_problems
from .placement import placement_problems
from .regions import HEALTHIMAGING_REGIONS, region_problems
from .s3 import (
    ACCOUNT_REGIONAL_SUFFIX,
    account_regional_bucket_name,
    account_regional_prefix_problems,
    bucket_name_problems,
    bucket_name_warnings,
)
from .tags import datastore_tags_problems, tags_problems
from .values import (
    as_whole_number,
    choice_problems,
    name_prefix_problems,
    persona_names_problems,
    positive_days_problems,
    whole_number,
    whole_number_problems,
)

__all__ = [
    "ACCOUNT_REGIONAL_SUFFIX",
    "HEALTHIMAGING_REGIONS",
    "InvalidInputError",
    "account_id_problems",
    "account_regional_bucket_name",
    "account_regional_prefix_problems",
    "as_whole_number",
    "bucket_name_problems",
    "bucket_name_warnings",
    "choice_problems",
    "datastore_ids_problems",
    "datastore_name_problems",
    "datastore_tags_problems",
    "foreign_key_warnings",
    "iam_name_problems",
    "iam_path_problems",
    "iam_policy_arn_problems",
    "iam_principal_problems",
    "iam_settings_problems",
    "identity_center_instance_arn_problems",
    "kms_alias_name_problems",
    "kms_key_arn_problems",
    "name_prefix_problems",
    "permission_set_name_problems",
    "persona_names_problems",
    "placement_problems",
    "positive_days_problems",
    "principal_arn",
    "raise_if_problems",
    "region_problems",
    "tags_problems",
    "whole_number",
    "whole_number_problems",
]
