"""The organisation stack: IAM Identity Center permission sets and group assignments for every imaging account.

Deploy it in the Identity Center administration account after the imaging stacks (README.md beside this file).
"""

import pulumi
from organisation_access import declare, load_settings

settings = load_settings(pulumi.Config())
access = declare(settings)

pulumi.export("permissionSetArns", access.permission_set_arns)
pulumi.export("assignmentCount", len(access.assignments))
