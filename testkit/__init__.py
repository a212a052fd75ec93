"""What the tests and the benchmarks share: the program run under Pulumi's mocks (:mod:`testkit.mock_runs`), the
provider driven as the engine drives it (:mod:`testkit.provider_harness`), and the loopback stand-ins for AWS
(:mod:`testkit.fakes`). Not packaged: it lives in the repository only.
"""
