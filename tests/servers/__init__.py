"""Real servers on 127.0.0.1 standing in for the outlets in tests: WeChat and Weibo APIs and a CMS
(``http.server`` in a thread) and an SMTP server (aiosmtpd). Each follows the documented contract strictly
(docs/outlets.md) and can inject faults on command; each records what it received."""
