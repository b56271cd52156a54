from gatewarden.cli.app import main

main()
