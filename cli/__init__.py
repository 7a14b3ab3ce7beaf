"""The `farmacy` command (bin/farmacy, the `farmacy` console script, `python -m cli`): the top layer beside the APIs.

One module per group of commands; ``cli.main`` assembles them. Operator actions are functions of ``ops`` (the CLI,
the ops API and the console call the same ones); running the local stack is ``stack``, which nothing but the CLI
(and the tests) uses.
"""
