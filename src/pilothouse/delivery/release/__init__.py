"""Release notes and versions from commits: Conventional Commits 1.0.0 and SemVer 2.0.0.

The pure core (`semver`, `commits`, `policy`, `tags`, `notes`, `render`, `changelog`,
`workspace`) takes records and returns records; `git` reads a repository through the
`git` binary and `github` publishes GitHub Releases. `pilothouse.cli.release` only
parses flags, calls these and prints.
"""
