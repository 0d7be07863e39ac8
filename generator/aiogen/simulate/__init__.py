"""``aiogen simulate``: the states a rollover passes through (`sequences`), a throwaway PKI with
real keys (`material`, faithful stand-ins: `stand_in`), who connects and which name they dial
(`dialing`, `populations`), which checks run (`planning`), path validation and loopback TLS
(`handshake`) run once per distinct pair (`running`), why a check failed (`diagnosis`), the entry
points (`engine`), the report (`report`) and the export of each check's material (`export`)."""
