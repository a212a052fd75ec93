"""AWS Lambda functions that the Pulumi program packages from this repository (each package is deployed with the
parts of :mod:`ahiops` it imports, by :mod:`components.lambda_package`)."""
