"""python -m cleanup"""

from .cli import main

main()
