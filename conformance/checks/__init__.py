"""The conformance checks: a module per area of the contract, a function per check, each naming
the requirement IDs it covers (`@pytest.mark.requirement`)."""
