"""The ElectronHub API: the client, its errors and answers, pacing, the breaker, the account's inventory."""
