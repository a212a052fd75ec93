"""The data store creator: a Lambda function that calls CreateDatastore with the options CloudFormation cannot set
(``losslessStorageFormat``, ``lambdaAuthorizerArn``), waits for ACTIVE and fails loudly with HealthImaging's message.
The component :class:`components.datastore.ImagingDatastore` invokes it through ``aws.lambda_.Invocation`` with the
CRUD lifecycle (see :mod:`.handler`)."""
