"""``aiogen simulate``: the states a rollover passes through (`sequences`), a throwaway PKI with
real keys (`material`), path validation and loopback TLS (`handshake`), the checks and their run
(`engine`), the report (`report`) and the export of each check's material (`export`)."""
