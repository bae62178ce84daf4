from thinkswitch.cli.app import main

main()
