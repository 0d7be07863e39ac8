"""How a cold `aiogen` process starts without paying for what it does not use: modules a library
imports for calls aiogen never makes run only when used (`deferral`); regular expressions are
compiled when aiogen is installed (`regexes`), as the templates and the spec validator are, with
what those files share in `ahead`; `aiogen precompile` compiles the modules a cold start imports
into one file for the environment, imported from while it describes that environment (`modules`).
None of it changes what a command does or prints."""
