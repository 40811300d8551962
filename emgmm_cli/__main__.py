"""python -m emgmm_cli"""

from emgmm_cli.cli.main import main

if __name__ == "__main__":
    main()
