"""The reference server: the Tines webhook contract and the Stories Get API, over real HTTP.

Start it with `reference-impl serve` (or `python -m reference_impl serve`); `--help` lists the
settings. The modules, from the outside in:

- `cli` parses the command line, writes the target profile, serves with uvicorn;
- `app` holds the routes (Stories API, webhook, response URL) and the error handlers;
- `negotiation` turns an exit payload and an Accept header into status, headers and bytes;
- `engine` runs a story's action graph (webhook, transform, delay, exit) with per-story slots;
- `templating` evaluates `<<pills>>` in action options;
- `store` keeps runs and events in SQLite (WAL), written in batches by one thread;
- `fixtures` loads the stories (`fixtures/builtin.yaml` by default), `config` the settings.

Choices the spec leaves to the implementation, made here:

- An answer is sent only after its exit event is committed to disk (`store`), so the response
  URL, which reads the database, is read-your-writes and survives a restart.
- A run that the process cannot finish (stopped by SIGTERM, or found unfinished at start-up after
  a crash) is marked abandoned: its response URL answers 410 with status `abandoned`.
- On SIGTERM the server stops accepting connections and lets the requests in flight get their
  answers (each within the exit timeout), then stops the runs, marks them abandoned, commits, and
  exits 0.
- A run whose actions end without an exit event (an action failed on its event, or no branch
  reached an exit) is failed at once: its request gets 422 with `X-Tines-Status: error` and the
  error body, and its response URL answers 410 with status `failed`, never a pending 202.
"""
