from kqtools.cli import main

main()
