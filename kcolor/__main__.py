from kcolor.cli import main

main()
