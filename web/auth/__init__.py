"""Sign-in and sessions: signed cookies, CSRF tokens, one-time links (``signin``)."""
