from bench.reverification.run import main

main()
