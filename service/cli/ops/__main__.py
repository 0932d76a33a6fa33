from service.cli.ops import console

console()
