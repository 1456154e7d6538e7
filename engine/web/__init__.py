"""The agent console and supervisor wallboard: a Flask app served by gevent inside the engine process."""
