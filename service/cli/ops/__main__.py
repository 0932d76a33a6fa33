from service.cli.ops import main

main()
