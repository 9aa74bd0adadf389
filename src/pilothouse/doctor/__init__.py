"""`pilothouse doctor`: is CI set up and running, and if not, exactly why.

workflow.py reads files as GitHub does (YAML 1.2, lines kept); schema.py and rules.py hold the
pure local rules; lint.py runs actionlint; local.py finds and checks the files;
remote.py judges the token, repository and workflows from GitHub's answers.
"""
