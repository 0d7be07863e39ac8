"""``aiogen simulate``: the states a rollover passes through (`sequences`), a throwaway PKI with
real keys (`material`, faithful stand-ins: `stand_in`), who connects and which name they dial
(`dialing`, `populations`), which checks run (`planning`), path validation and real TLS handshakes
on 127.0.0.1 (`path`, `handshake`, `loopback`) run once per distinct pair (`running`), on every
core (`verdicts`), why a check failed (`diagnosis`), the entry points (`engine`), the report
(`report`) and the export of each check's material (`export`)."""
